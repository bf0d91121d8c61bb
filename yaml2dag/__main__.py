from yaml2dag.cli import main

main()
