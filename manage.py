#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refund_site.settings.local")
    if sys.argv[1:2] == ["generate_keys"]:
        # Makes the secrets, so it must run before they exist: the production settings
        # skip their secret checks for this one command (and only this one).
        os.environ["REFUND_GENERATING_KEYS"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
