"""Robot-cell plugins: the OPC UA action plugin, the MQTT transport, the simulated cell."""
