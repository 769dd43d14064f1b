"""The backup check: the newest backup of each service, its age and its checksum."""
