"""Provider clients: one module per API, sharing the HTTP policy in ``http``.

Providers are thin: they map one API onto calls and raise ``ProviderError`` with a
message for a person. They know nothing of plans, state or secrets storage.
"""
