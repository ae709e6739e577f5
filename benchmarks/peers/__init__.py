"""The two peers newsdrop is measured against: what a user would write instead."""
