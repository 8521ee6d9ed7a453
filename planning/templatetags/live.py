"""`{% live_digest value ... %}`: the fingerprint of what a row shows, for its data-digest."""

from django import template

from eventplanner import live

register = template.Library()


@register.simple_tag
def live_digest(*values) -> str:
    return live.digest(*values)
