// OutpostCLI
