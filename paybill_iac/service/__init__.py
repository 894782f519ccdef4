"""paybill_iac.service: the control-plane service, the one process that holds the Pulumi backend and cloud
credentials. Services call its REST interface, AI agents its MCP interface (/mcp), both with bearer
tokens; every operation runs through the same Operator as the CLI (leases, journal, gates, packs) as the
token's principal, with the server's settings.

Modules, each importing only those above it:

    problems   RFC 9457 problem bodies; the automation layer's exceptions mapped to them
    auth       roles, tenant selectors, the bearer header
    limits     per-token (and per-address, for failed authentication) rate limits
    core       ServiceConfig and Service: every operation, authorised and journaled (blocking)
    rest       the REST endpoints (one table: routes and the OpenAPI document)
    openapi    the OpenAPI document
    agents     the MCP server: the same operations as tools, read-only unless --write-tools
    app        the ASGI application: the guard (authentication, limits, no tracebacks), REST, MCP
    client     RemoteAutomation: the CLI's automation commands through a server (PAYBILL_SERVER_URL)

Importing this package imports nothing; `paybill-iac serve` (paybill_iac.cli_service) builds the app.
"""
