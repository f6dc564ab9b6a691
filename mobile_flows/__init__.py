"""Mobile flows composed from screens: ``screens`` (one class per screen), ``critical_path`` (the demo walk),
``locators`` (plan locator strings → Appium strategies). Nothing here imports Locust or gevent."""
