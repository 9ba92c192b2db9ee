"""groupbuy use cases: load, apply the domain rules, save."""
