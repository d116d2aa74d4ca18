"""Coverage gaps: files under the threshold, listed at the end of the run. (Being built.)"""
