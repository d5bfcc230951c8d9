// The declaration in include/CFuzzerDriver.h is defined by libFuzzer, which the fuzz targets link.
