"""Obligations: the dated duties a workspace's contracts set (expiry, renewal, the last day to give notice, payment and
delivery dates), each traced to the passages it was computed from; a workspace calendar and private ICS feeds.
The dates come from analysis.obligations at the reading step; this app stores, lists and publishes them."""
