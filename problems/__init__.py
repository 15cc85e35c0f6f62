"""The problem catalogue: one plain Python file per problem."""
