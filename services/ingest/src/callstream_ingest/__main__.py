from callstream_ingest.app import main

main()
