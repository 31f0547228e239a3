from stageway.cli import main

raise SystemExit(main())
