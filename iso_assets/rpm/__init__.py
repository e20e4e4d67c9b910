"""RPM helpers: EL-style rpmbuild on a Debian host, and header reading."""
