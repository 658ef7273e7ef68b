"""The app's page scripts; ``app/navigation.py`` registers them."""
