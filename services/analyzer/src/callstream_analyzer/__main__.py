import asyncio

from callstream_analyzer.app import create_app

asyncio.run(create_app().run())
