"""One router per Leonardo resource."""
