import asyncio

from callstream_notifier.app import create_app

asyncio.run(create_app().run())
