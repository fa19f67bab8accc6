from analogeq.cli import main

raise SystemExit(main())
