// OutpostCurl
