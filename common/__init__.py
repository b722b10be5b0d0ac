"""What the three ports share: config, data, initial parameters, batch order, metrics, reporting."""
