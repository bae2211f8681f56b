"""`python -m monitor` runs the `monitor` command."""

from .cli import main

if __name__ == "__main__":
    main()
