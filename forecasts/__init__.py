"""Grid signals: reading forecast files and putting them on the planning grid."""
