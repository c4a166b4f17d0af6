"""Who may call the API from outside: the OAuth2 authorization server (authlib), its access
tokens, clients and consent, and single sign-on for managers. Used by the schema, the pages
and the composition root; uses the services and the store."""
