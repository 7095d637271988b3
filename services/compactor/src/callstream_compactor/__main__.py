import asyncio

from callstream_compactor.app import create_app

asyncio.run(create_app().run())
