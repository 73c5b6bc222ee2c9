from lgscope.cli import main

main()
