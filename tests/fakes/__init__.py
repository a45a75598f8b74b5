"""Protocol fakes for the driver tests: an esp-rfid MQTT device process and a Hikvision ISAPI server."""
