"""The GraphQL API, code-first with strawberry; `schema.graphql` is generated from it."""
