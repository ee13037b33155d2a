"""``python -m scanner`` runs the secretaudit CLI."""

from scanner.cli import main

if __name__ == "__main__":
    main()
