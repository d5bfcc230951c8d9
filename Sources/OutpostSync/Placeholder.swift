// OutpostSync
