from target.metrics import Histogram, Metrics, quantile


def test_quantiles_nearest_rank():
    values = sorted(float(i) for i in range(1, 101))
    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile([], 0.5) == 0.0
    assert quantile([3.0], 0.99) == 3.0


def test_histogram_window_is_bounded_but_counts_everything():
    h = Histogram(window=10)
    for i in range(100):
        h.observe(float(i))
    s = h.summary()
    assert s["count"] == 100 and s["p50"] >= 90 and s["max"] == 99.0


def test_snapshot_has_counters_gauges_histograms_and_collectors():
    m = Metrics()
    m.inc("duplicate_key_hits")
    m.inc("duplicate_key_hits", 2, labels={"service": "payment"})
    m.set("consumer_lag", 4)
    for v in (0.001, 0.002, 0.003):
        m.observe("store_write_seconds", v)
    m.collector(lambda: {"election_term": 7})
    m.collector(lambda: 1 / 0)  # a broken collector does not hide the rest
    s = m.snapshot()
    assert s["counters"]["duplicate_key_hits"] == 1
    assert s["counters"]['duplicate_key_hits{service="payment"}'] == 2
    assert s["gauges"]["consumer_lag"] == 4 and s["gauges"]["election_term"] == 7
    assert s["histograms"]["store_write_seconds"]["count"] == 3
    assert s["histograms"]["store_write_seconds"]["p50"] == 0.002
    assert s["counters"]["collector_errors"] == 1
    assert m.counter("duplicate_key_hits", {"service": "payment"}) == 2


def test_timer_records_even_when_the_block_raises():
    m = Metrics()
    try:
        with m.timer("op_seconds"):
            raise RuntimeError
    except RuntimeError:
        pass
    assert m.snapshot()["histograms"]["op_seconds"]["count"] == 1


def test_prometheus_text_format():
    m = Metrics()
    m.inc("duplicate_key_hits", labels={"service": "payment"})
    m.set("consumer-lag", 3)
    m.observe("store_read_seconds", 0.5)
    text = m.prometheus()
    lines = text.splitlines()
    assert "# TYPE seam_duplicate_key_hits counter" in lines
    assert 'seam_duplicate_key_hits{service="payment"} 1' in lines
    assert "seam_consumer_lag 3" in lines  # sanitised name
    assert 'seam_store_read_seconds{quantile="0.99"} 0.5' in lines
    assert "seam_store_read_seconds_count 1" in lines
    assert text.endswith("\n")
