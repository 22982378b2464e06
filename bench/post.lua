-- wrk script: every request is a POST with a small JSON body.
wrk.method = "POST"
wrk.body = '{"order":42,"items":["a","b","c"]}'
wrk.headers["Content-Type"] = "application/json"
