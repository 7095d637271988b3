import asyncio

from callstream_transcriber.app import create_app

asyncio.run(create_app().run())
