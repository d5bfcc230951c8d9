// OutpostServer
