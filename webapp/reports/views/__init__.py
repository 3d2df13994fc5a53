"""The reports app's pages and form actions: parse the request, call a service or selector, render. Each module is
one screen or one family of actions."""
