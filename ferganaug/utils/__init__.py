"""Small shared utilities (layer 0): atomic files, run directories, seeding, device speed."""
