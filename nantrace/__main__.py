from nantrace.cli.main import main

raise SystemExit(main())
