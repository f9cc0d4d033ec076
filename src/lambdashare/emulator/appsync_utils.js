// The part of `@aws-appsync/utils` that template.yaml's APPSYNC_JS resolvers use, for the emulator's
// QuickJS runtime (appsync_js.py), and the driver that runs a resolver's request and response handlers.
//
// Not the real package, which exists only inside AppSync: each helper follows its AppSync documentation.
// Evaluated once per resolver run, in a fresh context, before the resolver's own code. The runtime rewrites
// the resolver's `import { util, extensions } from '@aws-appsync/utils'` into a read of `__appsync.modules`.
// Spec: https://docs.aws.amazon.com/appsync/latest/devguide/built-in-util-js.html

const state = { errors: [], subscriptionFilter: null };

// Thrown by util.error, util.unauthorized and runtime.earlyReturn; the driver turns them into outcomes.
const FAILURE = Symbol('appsync failure');

function failure(kind, fields) {
  const error = new Error(fields.message || kind);
  error[FAILURE] = { kind, ...fields };
  return error;
}

function errorEntry(message, errorType, data, errorInfo) {
  return {
    message: String(message),
    errorType: errorType === undefined ? null : errorType,
    data: data === undefined ? null : data,
    errorInfo: errorInfo === undefined ? null : errorInfo,
  };
}

const pad = (value, width) => String(value).padStart(width, '0');

// Java DateTimeFormatter letters AppSync accepts in nowFormatted, for UTC.
const FORMAT_FIELDS = {
  yyyy: (d) => pad(d.getUTCFullYear(), 4),
  yy: (d) => pad(d.getUTCFullYear() % 100, 2),
  MM: (d) => pad(d.getUTCMonth() + 1, 2),
  dd: (d) => pad(d.getUTCDate(), 2),
  HH: (d) => pad(d.getUTCHours(), 2),
  mm: (d) => pad(d.getUTCMinutes(), 2),
  ss: (d) => pad(d.getUTCSeconds(), 2),
  SSS: (d) => pad(d.getUTCMilliseconds(), 3),
  Z: () => '+0000',
  XXX: () => 'Z',
};
const FORMAT_TOKEN = /yyyy|yy|MM|dd|HH|mm|ss|SSS|XXX|Z|'[^']*'/g;

function formatUtc(date, format, timezone) {
  if (timezone !== undefined && timezone !== 'UTC' && timezone !== 'Etc/UTC') {
    throw new Error(`the emulator formats times in UTC only, not ${timezone}`);
  }
  return format.replace(FORMAT_TOKEN, (token) =>
    token.startsWith("'") ? token.slice(1, -1) : FORMAT_FIELDS[token](date),
  );
}

const time = {
  nowISO8601: () => new Date().toISOString(),
  nowEpochSeconds: () => Math.floor(Date.now() / 1000),
  nowEpochMilliSeconds: () => Date.now(),
  nowFormatted: (format, timezone) => formatUtc(new Date(), format, timezone),
  parseISO8601ToEpochMilliSeconds: (text) => Date.parse(text),
  epochMilliSecondsToSeconds: (millis) => Math.floor(millis / 1000),
  epochMilliSecondsToISO8601: (millis) => new Date(millis).toISOString(),
  epochMilliSecondsToFormatted: (millis, format, timezone) => formatUtc(new Date(millis), format, timezone),
};

// util.transform.toSubscriptionFilter: a filter object (fields with operators, `and`/`or` groups) in
// disjunctive normal form, AppSync's `{filterGroup: [{filters: [{fieldName, operator, value}]}]}`.
function conjunction(left, right) {
  const terms = [];
  left.forEach((a) => right.forEach((b) => terms.push([...a, ...b])));
  return terms;
}

function toTerms(filter, ignoredFields) {
  let terms = [[]];
  Object.keys(filter).forEach((key) => {
    if (ignoredFields.includes(key)) {
      return;
    }
    const value = filter[key];
    if (key === 'or') {
      const alternatives = [];
      value.forEach((part) => alternatives.push(...toTerms(part, [])));
      terms = conjunction(terms, alternatives);
    } else if (key === 'and') {
      value.forEach((part) => {
        terms = conjunction(terms, toTerms(part, []));
      });
    } else {
      const filters = Object.keys(value).map((operator) => ({ fieldName: key, operator, value: value[operator] }));
      terms = conjunction(terms, [filters]);
    }
  });
  return terms;
}

function toSubscriptionFilter(filter, ignoredFields, rules) {
  let terms = toTerms(filter, ignoredFields || []);
  if (rules) {
    terms = conjunction(terms, toTerms(rules, []));
  }
  return { filterGroup: terms.map((filters) => ({ filters })) };
}

const util = {
  error(message, errorType, data, errorInfo) {
    throw failure('error', errorEntry(message, errorType, data, errorInfo));
  },
  appendError(message, errorType, data, errorInfo) {
    state.errors.push(errorEntry(message, errorType, data, errorInfo));
  },
  unauthorized() {
    throw failure('unauthorized', {});
  },
  autoId() {
    // QuickJS has no crypto: the runtime hands each run a few uuid4s made by Python
    if (__appsync.ids.length === 0) {
      throw new Error('the emulator gives at most 8 util.autoId() values per resolver run');
    }
    return __appsync.ids.shift();
  },
  isNull: (value) => value === null || value === undefined,
  isNullOrEmpty: (value) => value === null || value === undefined || value === '',
  defaultIfNull: (value, fallback) => (value === null || value === undefined ? fallback : value),
  time,
  transform: { toSubscriptionFilter },
};

const extensions = {
  setSubscriptionFilter(filter) {
    state.subscriptionFilter = filter;
  },
};

const runtime = {
  earlyReturn(value) {
    throw failure('earlyReturn', { value: value === undefined ? null : value });
  },
};

// The driver: one context object for the request and the response handler, as in AppSync.
let context = null;

// call('request', contextJson), then call('response', resultJson, errorJson, updatesJson): returns the
// outcome as JSON, with the stash. `updatesJson` carries what a pipeline's functions changed (stash, prev).
function call(handlerName, json, errorJson, updatesJson) {
  if (handlerName === 'request') {
    context = JSON.parse(json);
    context.args = context.arguments;
  } else {
    context.result = JSON.parse(json);
    context.error = JSON.parse(errorJson);
    Object.assign(context, JSON.parse(updatesJson || '{}'));
  }
  const handler = __appsync.handlers[handlerName];
  const outcome = { kind: 'return', value: null };
  try {
    const value = handler ? handler(context) : handlerName === 'request' ? {} : context.result;
    outcome.value = value === undefined ? null : value;
  } catch (thrown) {
    if (!thrown || !thrown[FAILURE]) {
      throw thrown;
    }
    Object.assign(outcome, thrown[FAILURE]);
  }
  return JSON.stringify({
    ...outcome,
    appendedErrors: state.errors,
    subscriptionFilter: state.subscriptionFilter,
    stash: context.stash === undefined ? {} : context.stash,
  });
}

globalThis.__appsync.modules = { '@aws-appsync/utils': { util, extensions, runtime } };
globalThis.__appsync.call = call;
