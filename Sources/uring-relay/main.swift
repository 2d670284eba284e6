print("uring-relay")
