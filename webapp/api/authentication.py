"""`Authorization: Bearer qk_...` for scripts; the browser's session (with CSRF) keeps working."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from webapp.api.tokens import token_user


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        user = token_user(raw)
        if user is None:
            raise exceptions.AuthenticationFailed("The token is not valid or has been revoked.")
        return user, None

    def authenticate_header(self, request) -> str:
        return self.keyword  # makes unauthenticated answers 401 with WWW-Authenticate, not 403
