print("leafguard")
