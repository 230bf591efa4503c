"""What every study shares: data, reference models, paired statistics, plots,
and the one runner that writes ``results.json``. Studies import only
``optasched`` (its public API) and this package."""
