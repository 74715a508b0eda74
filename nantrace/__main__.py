from nantrace.cli import main

raise SystemExit(main())
