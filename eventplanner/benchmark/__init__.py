"""The performance benchmark: each service call beside the same work done by one hand-written
SQL statement on the same database (the floor), the pages under load, and growth with the
data. Run it with `make bench`; see README, "Performance"."""
