"""The services of the app that served a page: app/ui/web.py puts them in the ASGI scope."""

from starlette.requests import Request

from app.services.container import Services

SCOPE_KEY = "powerpermit.services"


def services_of(request: Request) -> Services:
    services: Services = request.scope[SCOPE_KEY]
    return services
