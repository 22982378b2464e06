-- wrk: every request asks for Host "app" (the service the deploy tests route there).
wrk.headers["Host"] = "app"
