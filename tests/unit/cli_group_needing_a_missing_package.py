"""A command group whose import needs a package that is not installed (for test_cli)."""

import no_such_package_for_cli_tests  # type: ignore[import-not-found]  # noqa: F401
