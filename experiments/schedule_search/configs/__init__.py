"""Configs of the schedule-search study: smoke (tests), quick, default, gpu."""
