"""A schedule -> extend the API key's expiry (appsync:UpdateApiKey), so the key never lapses."""
