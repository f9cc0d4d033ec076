// AppSync's own lint rules for APPSYNC_JS code, with the type-aware ones (recommended).
import appsync from '@aws-appsync/eslint-plugin';

export default [
  {
    files: ['**/*.js'],
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },
  appsync.configs.recommended,
];
